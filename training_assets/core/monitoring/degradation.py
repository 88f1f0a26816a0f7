"""When the champion is degraded: a run of consecutive judged days (in day order, not in the
order they were judged) on which its live gate failed. One degradation asks for one retrain,
however often its days are judged again as labels keep arriving."""

from collections.abc import Mapping


def newest_degradation(verdicts: Mapping[str, bool]) -> list[str]:
    """The days of the newest run of failing days among the judged days (ISO dates, each with
    whether it passed), oldest first; empty when no judged day failed. A passing judged day
    ends a run; days not judged (too few labels) neither end nor extend one."""
    runs: list[list[str]] = []
    current: list[str] = []
    for day in sorted(verdicts):
        if verdicts[day]:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(day)
    if current:
        runs.append(current)
    return runs[-1] if runs else []

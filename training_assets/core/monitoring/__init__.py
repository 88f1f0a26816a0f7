"""What happens after a model is served: the predictions it made and how right they were."""

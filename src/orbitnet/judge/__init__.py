"""The one way every prediction is judged: solve weights on it and compare with the orbit models."""

"""What each chapter computes and summarises, one module per chapter."""

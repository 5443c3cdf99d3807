"""Every figure of the book, in one style."""

"""The book machinery: chapter registry and profiles, papermill runner, the command line."""

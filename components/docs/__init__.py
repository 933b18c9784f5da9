"""The generated docs and pictures (`make docs`)."""

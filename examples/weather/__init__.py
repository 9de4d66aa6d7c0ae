"""Weather agent: the get-started example. See README.md beside this file."""

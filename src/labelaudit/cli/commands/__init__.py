"""One module per command; importing one registers its command on the app."""

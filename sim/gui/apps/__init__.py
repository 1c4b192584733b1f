"""Small real applications to test the GUI stack against."""

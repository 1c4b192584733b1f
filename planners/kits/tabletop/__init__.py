"""The tabletop domain kit: robot skills over objects on a table (see ``kit.py``)."""

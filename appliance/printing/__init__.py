"""Paper for the room: the ceremony log as a PDF (`document`) and printed through CUPS (`cups`)."""

"""Browser pages served by the server itself: the meeting poll page and its client module.

The files beside this module are the whole page (HTML, CSS, two ES modules); there is
no build step and nothing is fetched from elsewhere. ``handlers.py`` serves them.
"""

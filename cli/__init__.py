"""The ``switchboard`` command line: a front end beside the portal and the notebooks.

``main`` dispatches to each part; ``analytics`` and ``routing`` hold their
sub-commands, ``run`` the supervisor that ``make run`` starts. Nothing of the
project imports this package.
"""

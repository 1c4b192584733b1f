"""The domain kits of the worlds shipped here (see :mod:`embodied.domain`): ``tabletop`` (a robot
arm over a table) and ``gui`` (a screen). Each folder holds the kit (``kit.py``), its typed subgoal
actions (``actions.py``), its prompt notes (``notes.md``) and few-shot examples (``examples/``)."""

"""TalentReel: a self-hosted server for recorded job interviews.

The repository's top-level folders are this package's subpackages (see setup.cfg and DESIGN.md):
``talentreel.server`` (core), ``talentreel.plugins`` (built-in plugins), ``talentreel.workers``
(RQ jobs), ``talentreel.admin`` (console), ``talentreel.migrators``, ``talentreel.monitoring``.
"""

__version__ = "0.1.0"

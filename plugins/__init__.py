"""Built-in plugins. Each is a small module registered through the same hooks as third-party
plugins (see talentreel.server.plugins.BUILTIN_PLUGINS)."""

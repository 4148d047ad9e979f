"""batchavatars: a YAML manifest of HeyGen avatars and looks, made real through the v3 API."""

__version__ = "0.1.0"

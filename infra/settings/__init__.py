"""Validated stack settings: `build_settings` (pure) and `load_settings` (from the running program's config)."""
from .base import SettingsError
from .common import Tier
from .stack import SECTIONS, Section, StackSettings, build_settings, current_config, load_settings

__all__ = ["SECTIONS", "Section", "SettingsError", "StackSettings", "Tier", "build_settings", "current_config",
           "load_settings"]

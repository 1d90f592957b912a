"""Device profiles: the built-in published ones (suite/data/profiles.json, each with its source)
and the ones calibrated on this machine (results/profiles/, keyed by machine fingerprint)."""
from __future__ import annotations

import json
from importlib import resources

from suite.errors import UserError
from suite.model import Profile


def builtin_profiles() -> dict[str, Profile]:
    data = json.loads(resources.files("suite").joinpath("data/profiles.json").read_text())
    out = {}
    for name, d in data.items():
        extra = {k: v for k, v in d.items() if k.endswith("_note")}
        fields = {k: v for k, v in d.items() if not k.endswith("_note")}
        out[name] = Profile(name=name, extra=extra or None, **fields)
    return out


def builtin_profile(name: str) -> Profile:
    profiles = builtin_profiles()
    try:
        return profiles[name]
    except KeyError:
        raise UserError(f"unknown profile {name!r} (known: {', '.join(profiles)}, calibrated)") from None

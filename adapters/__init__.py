"""OpenTimelineIO adapters written by polysync (installed as ``polysync_adapters``).

``polysync_fcpxml``  (.fcpxml)  Final Cut Pro multicam clip and project, FCPXML 1.8-1.11
``polysync_fcp7xml`` (.xml)     Premiere Pro / DaVinci Resolve / FCP7 XML (xmeml 4 or 5)

They are registered under the entry point group ``opentimelineio.plugins``; OTIO imports this
module and calls :func:`plugin_manifest`, so after ``pip install`` both work by name::

    otio.adapters.write_to_file(timeline, "cut.fcpxml", adapter_name="polysync_fcpxml")

They write timelines built by :func:`polysync.timeline.build_timeline` (they read its
``metadata["polysync"]`` and track roles).
"""

from importlib import resources


def plugin_manifest():
    """The OTIO PluginManifest of these adapters (read from ``plugin_manifest.json``)."""
    from opentimelineio.plugins import manifest

    text = (resources.files(__name__) / "plugin_manifest.json").read_text(encoding="utf-8")
    return manifest.manifest_from_string(text)

"""Presenters' materials: storage, type detection, streaming reception, upload links, session
packs and the messages about them.

- :mod:`.storage` — content-addressed storage (:class:`~.storage.FileSystemStorage`), written
  through a synced temporary file and an atomic rename;
- :mod:`.types` — what a file is, from its content (PDF, PPTX, DOCX, XLSX, ODP, MP4, PNG, JPEG);
- :mod:`.receive` — one file from a streamed request body (multipart form or raw), checked
  while it arrives;
- :mod:`.names` — display names and download headers (a name is never a path);
- :mod:`.tokens` — signed upload tokens bound to one presentation and purpose;
- :mod:`.packs` — the zip of a session's current materials;
- :mod:`.texts`, :mod:`.messages` — the words, and the outbox renderers of
  ``call_for_materials``, ``receipt`` and ``chaser``.

The use cases that tie them to the database are in :mod:`coordinator.services.materials`.
"""

"""Service templates: the folders `python -m octue_beam init TEMPLATE DIR` copies to start a new service.

Each template is a folder of this package (`fractal/`, `using-manifests/`, `child-services/`): a complete, small
service with its octue.yaml, twine.json, app, example input, README and tests. The folders are data, shipped as
package data and never imported: a file whose name ends in `-tpl` has its placeholders (`{{namespace}}`,
`{{name}}`) filled and the suffix dropped when copied (so `app.py-tpl` becomes `app.py`, and nothing under this
package is a module but the copying code); every other file is copied byte for byte. `creating` copies them; it
imports nothing else of octue_beam (the command checks the names, `cli.init`).
"""

from octue_beam.templates.creating import (
    TEMPLATES,
    DirectoryNotEmpty,
    UnknownTemplate,
    create_service,
    planned_files,
    template_folder,
)

__all__ = ["TEMPLATES", "DirectoryNotEmpty", "UnknownTemplate", "create_service", "planned_files", "template_folder"]

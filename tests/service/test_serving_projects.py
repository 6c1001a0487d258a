"""Where a local run serves its `--with` companions: wherever the run's services ask them
(`octue_beam.service.children.serving_projects`, read from the services' octue.yaml files)."""

from pathlib import Path

import yaml

from octue_beam.service.children import serving_projects


def service(folder: Path, name: str, children: list[dict] | None = None) -> str:
    folder.mkdir(parents=True)
    entry = {"namespace": "tree", "name": name}
    if children is not None:
        entry["children"] = children
    (folder / "octue.yaml").write_text(yaml.safe_dump({"services": [entry]}))
    return str(folder)


def child(key: str, name: str, project: str | None = None, tag: str = "") -> dict:
    backend = {"name": "GCPPubSubBackend"}
    if project:
        backend["project_id"] = project
    return {"key": key, "id": f"tree/{name}{tag}", "backend": backend}


def test_children_are_served_in_the_project_their_parent_names(tmp_path):
    parent = service(tmp_path / "parent", "parent", [child("a", "a", "octue-sdk-python"), child("b", "b")])
    a = service(tmp_path / "a", "a")
    b = service(tmp_path / "b", "b")
    assert serving_projects(parent, [a, b], "local") == [(a, "octue-sdk-python"), (b, "local")]


def test_grandchildren_follow_their_parent_wherever_it_is_served(tmp_path):
    parent = service(tmp_path / "parent", "parent", [child("middle", "middle", "elsewhere", ":1.0")])
    middle = service(tmp_path / "middle", "middle", [child("leaf", "leaf")])
    leaf = service(tmp_path / "leaf", "leaf")
    loner = service(tmp_path / "loner", "loner")
    placements = serving_projects(parent, [leaf, middle, loner], "local")
    assert placements == [(leaf, "elsewhere"), (middle, "elsewhere"), (loner, "local")]


def test_a_child_asked_in_two_projects_is_served_in_both_and_the_main_service_where_a_companion_asks_it(tmp_path):
    main = service(tmp_path / "main", "main", [child("x", "x", "p1")])
    other_parent = service(tmp_path / "other", "other", [child("x", "x", "p2"), child("main", "main", "p3")])
    x = service(tmp_path / "x", "x")
    placements = serving_projects(main, [x, other_parent], "local")
    assert placements == [(main, "p3"), (x, "p1"), (x, "p2"), (other_parent, "local")]

"""The real Elasticsearch node the suite runs against does what the index backend relies on:
a dense_vector field with HNSW, bulk writes, kNN search and keyword match, index deletion."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

pytestmark = pytest.mark.es

DOCS = {
    "cyber": {"title": "Japan and the UK deepen their strategic cyber partnership",
              "lang": "en", "embedding": [0.9, 0.1, 0.0, 0.1]},
    "gcap": {"title": "GCAP fighter programme reaches a new design milestone",
             "lang": "en", "embedding": [0.0, 0.2, 0.95, 0.1]},
}


@pytest.fixture()
def client(es_url: str) -> Iterator[Elasticsearch]:
    with Elasticsearch(es_url, request_timeout=30) as es:
        yield es


@pytest.fixture()
def index(client: Elasticsearch) -> Iterator[str]:
    name = f"newsmon-smoke-{uuid.uuid4().hex[:12]}"
    client.indices.create(
        index=name,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"properties": {
            "title": {"type": "text"},
            "lang": {"type": "keyword"},
            # hnsw, not the quantised default, so that nearest-neighbour results are exact
            "embedding": {"type": "dense_vector", "dims": 4, "index": True,
                          "similarity": "cosine", "index_options": {"type": "hnsw"}},
        }},
    )
    actions = ({"_index": name, "_id": doc_id, "_source": doc} for doc_id, doc in DOCS.items())
    results = list(streaming_bulk(client, actions, max_retries=3, raise_on_error=False))
    assert [ok for ok, _ in results] == [True, True], results
    client.indices.refresh(index=name)
    yield name
    client.indices.delete(index=name)
    assert not client.indices.exists(index=name)


def test_node_is_the_client_major(client: Elasticsearch) -> None:
    # elasticsearch-py 9 only talks to 9.x servers; the test node must match the pinned client.
    nodes = client.nodes.info(node_id="_local")["nodes"]
    (node,) = nodes.values()
    assert node["version"].split(".")[0] == "9"


@pytest.mark.parametrize(("query_vector", "expected"), [
    ([1.0, 0.0, 0.0, 0.0], "cyber"),
    ([0.0, 0.0, 1.0, 0.0], "gcap"),
])
def test_knn_finds_the_nearest_document(client: Elasticsearch, index: str,
                                        query_vector: list[float], expected: str) -> None:
    response = client.search(index=index, knn={
        "field": "embedding", "query_vector": query_vector, "k": 2, "num_candidates": 10,
    })
    hits = response["hits"]["hits"]
    assert [hit["_id"] for hit in hits][0] == expected
    assert len(hits) == 2
    assert hits[0]["_score"] > hits[1]["_score"]


def test_keyword_match_and_filter(client: Elasticsearch, index: str) -> None:
    response = client.search(index=index, query={"bool": {
        "must": {"match": {"title": "fighter"}},
        "filter": {"term": {"lang": "en"}},
    }})
    assert [hit["_id"] for hit in response["hits"]["hits"]] == ["gcap"]
    assert client.count(index=index, query={"term": {"lang": "ja"}})["count"] == 0

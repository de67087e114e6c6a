# SPDX-License-Identifier: Apache-2.0
"""The OpenSearch node the search tests use: it is OpenSearch 2.19, on loopback, and indexes,
searches and aggregates as a real one does (through opensearch-py, the client of choice)."""

from __future__ import annotations

import requests
from opensearchpy import OpenSearch


def test_the_node_is_opensearch_2_19_on_loopback(opensearch):
    about = requests.get(opensearch, timeout=10).json()
    assert about["version"]["distribution"] == "opensearch"
    assert about["version"]["number"].startswith("2.19.")
    assert opensearch.startswith("http://127.0.0.1:")
    health = requests.get(f"{opensearch}/_cluster/health", timeout=10).json()
    assert health["number_of_nodes"] == 1 and health["status"] in ("green", "yellow")


def test_the_node_indexes_searches_and_aggregates(opensearch):
    client = OpenSearch(hosts=[opensearch], timeout=30)
    index = "node-check"
    client.indices.create(
        index=index,
        body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {"hostname": {"type": "keyword"}, "text": {"type": "text"}}},
        },
    )
    try:
        for number, host in enumerate(["db1", "db1", "web1"]):
            client.index(
                index=index,
                id=str(number),
                body={"hostname": host, "text": f"nightly backup of /etc on {host}"},
                version=3,
                version_type="external",
                refresh=True,
            )
        found = client.search(index=index, body={"query": {"match": {"text": "web1"}}})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == ["2"]
        counted = client.search(
            index=index,
            body={"size": 0, "aggs": {"hosts": {"terms": {"field": "hostname"}}}},
        )
        buckets = {b["key"]: b["doc_count"] for b in counted["aggregations"]["hosts"]["buckets"]}
        assert buckets == {"db1": 2, "web1": 1}
        # external versioning: an older version is refused, as the indexer relies on
        stale = requests.put(
            f"{opensearch}/{index}/_doc/2",
            params={"version": "2", "version_type": "external"},
            json={"hostname": "old"},
            timeout=10,
        )
        assert stale.status_code == 409
    finally:
        client.indices.delete(index=index)

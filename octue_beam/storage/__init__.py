"""Cloud Storage access: one cached client (`client.get_storage_client`), transfers, metadata and signed URLs
(`client`), and `gs://` / URL path helpers (`path`)."""

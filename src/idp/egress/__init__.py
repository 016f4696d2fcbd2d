"""Outbound HTTP to addresses that outsiders choose (relying parties' back-channel URIs).

``policy`` decides which URIs and addresses may be reached; ``backend`` makes httpcore connect
to exactly the address the policy checked; ``client`` builds the one pooled httpx client.
"""

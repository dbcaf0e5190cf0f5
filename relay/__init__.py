"""rtpengine: the media relay in every call's path (anchors RTP, records by policy)."""

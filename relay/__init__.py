"""rtpengine: the media relay in every call's path (anchors RTP, records by policy).

``launcher`` starts rtpengine (userspace, ``--recording-method=pcap``);
``ng`` talks to it (start/stop recording of a live call by Call-ID).

What a recorded call leaves in ``settings.recording_spool_dir`` (the contract
the pipeline reads; measured with rtpengine 10.5 here):

- ``pcaps/<escaped Call-ID>-<16 hex>.pcap``: every RTP (and RTCP) packet
  rtpengine received from either side while recording was on, as it arrived
  (raw IPv4/UDP, linktype 101; source = the phone, destination = rtpengine's
  port for that side). The Call-ID is URI-escaped (``@`` -> ``%40``). The file
  grows while the call lasts; it is complete once the metadata file appears.
  A call recorded on demand, stopped and started again gets one file per span.
- ``metadata/rtpengine-meta-<same name>.txt``: written when the recording
  ends (call deleted or recording stopped); while it lasts it is in ``tmp/``.
  It holds the pcap path, then one block per SDP rtpengine produced
  (``SDP mode: offer`` = the caller's offer as rewritten towards the callee,
  its ``m=audio`` port is where the *callee* sends; ``SDP mode: answer``: the
  port where the *caller* sends), start/end times, and last the metadata line
  Kamailio set: ``tenant:<t>|call_id:<id>|caller:<ext or number>|callee:<dialled>|
  direction:<internal|inbound|outbound>|from_tag:<tag>`` (route MEDIA_OFFER, or
  ``NGClient.start_recording(metadata=ng.recording_metadata(...))`` for a call
  recorded on demand; rtpengine keeps it for the call's later spans).

So a packet whose destination port is the answer's port is the caller's voice,
the offer's port the callee's.
"""

"""What a tenant name and an extension may look like, defined once.

A tenant name is a SIP domain and also becomes a lake directory
(``tenant=<domain>``), so whoever builds a path checks it against
``TENANT_RE`` — the provisioning store on the way in, the pipeline and the
warehouse on the way out — never trusting the caller.
"""

import re

_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
TENANT_RE = re.compile(rf"^(?=.{{1,64}}$){_LABEL}(\.{_LABEL})+$")
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")

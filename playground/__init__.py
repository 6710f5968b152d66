"""The app's services: what the pages share on a server, checked at the door.

`mlp` is the NumPy core and knows nothing of browsers; this package stands between it and the
pages: each browser's own workspace, the checks every visitor's input passes before it is
decoded or used, and how it is echoed back.
"""

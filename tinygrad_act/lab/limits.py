"""Every bound the lab enforces, in one place: requests past them get a 4xx naming the limit.

The numbers keep one request cheap (well under a second on a 2-core machine) and the whole server
small: a class's worth of sessions (measured in docs/lab.md, "Teaching a class"), training runs
that share the cores in turns, nothing that grows without end.
"""

# Requests
MAX_BODY_BYTES = 16_384  # a request body; the largest real one is under 2 kB
MAX_NUMBER = 1e6  # |x| of any number a request carries (slider values, z, parameters)
MAX_REQUESTS_PER_SESSION = 4  # computing requests of one tab in flight at once (the page sends 1-3)
REQUEST_SECONDS = 5.0  # a request's head, and then its body, must arrive within this
KEEP_ALIVE_SECONDS = 5.0  # an idle connection between requests is closed after this
MAX_HEAD_BYTES = 16_384  # a request's line and headers
MAX_CONNECTIONS = 500  # open connections and requests at once; past it uvicorn answers 503

# Expression panel
MAX_EXPRESSION_LENGTH = 300  # characters
MAX_GRAPH_NODES = 60  # values in the built graph (drawn with every node, labels on every edge)
MAX_VARIABLES = 12
MAX_STEP_FRAME_OPS = 40  # ops of a graph the step frames are drawn for (one picture per op)
SLIDER_RANGE = (-10.0, 10.0)  # what the sliders span; the number boxes go to ±MAX_NUMBER
DEFAULT_VALUE = 1.0  # a new variable's value until its slider moves
CONCURRENT_DRAWINGS = 4  # Graphviz runs at once, over all sessions
DRAWING_WAIT_SECONDS = 5.0  # how long a request waits for a free Graphviz slot before a 429
DRAWING_SECONDS = 3.0  # Graphviz's time for one layout; past it, the answer has no drawing
FRAME_CACHE_SIZE = 16  # expressions whose step frames are kept

# Activation explorer
Z_RANGE = (-20.0, 20.0)  # where z can be set: slider, number box, the address, the API
PLOT_HALF_WIDTHS = (1.0, 24.0)  # the plot spans z in [-w, w]
PLOT_WIDENING = (6.0, 12.0, 24.0)  # w without a half_width: the narrowest that shows z
PLOT_POINTS = 241
PARAMETER_RANGES = {"slope": (0.0, 1.0), "alpha": (0.0, 5.0)}  # an activation's parameters
OTHER_PARAMETER_RANGE = (-10.0, 10.0)  # parameters of a user's registered activation

# Training (what each setting accepts, datasets, depth, width, lr and seed, is the library's:
# tinygrad_act.settings.FIELDS)
MAX_NETWORKS = 2  # side by side, from the same seed
MAX_STEPS = 2000  # training steps of one run
MAX_RUN_SECONDS = 120.0  # compute time of one run
MAX_STEPS_PER_REQUEST = 50  # the step button's count
CHUNK_SECONDS = 0.05  # a playing run computes this long, then streams what it did
BOUNDARY_GRID = 40  # the decision boundary's cells per side

# Sessions
MAX_SESSIONS = 60  # browser tabs at once, over all clients; every one can train
SESSION_IDLE_SECONDS = 45.0  # no request and no open stream for this long: removed
STREAM_INTERVAL_SECONDS = 0.25  # a stream sends at most one event per this ...
STREAM_SECONDS_PER_RUN = 0.02  # ... or per this times the runs playing, if longer
DETACHED_SECONDS = 30.0  # a session whose stream closed (its tab closed) is removed after this
HEARTBEAT_SECONDS = 2.0  # a stream writes at least this often, so a closed tab is noticed

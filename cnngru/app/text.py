"""The words on the page, kept apart from the wiring so they can be read and edited in one place."""

TITLE = "# Can a CNN enhance a GRU-based text generator?"

INTRO = """\
Four character-level language models trained on Shakespeare's plays, each about one million
parameters: **gru** (the baseline), **cnn-pre** (a CNN of character n-gram detectors in front of
the GRU), **cnn-post** (a causal CNN refining what the GRU produced) and **hybrid** (the GRU state
attends over CNN features of recent characters, and a learned weight mixes the two). All of them
are strictly causal and generate one character at a time. The **Results** tab has the measured
answer."""

GENERATE = """\
Pick a strategy and a prompt; the text streams in as it is generated. Below it: the hybrid's
attention between GRU states and CNN features, and per character the model's confidence and, for
every model with a CNN, how much the CNN changed the prediction (the KL divergence between the
next-character distribution with and without the CNN path). **Continue** picks up where the text
stopped, with the state carried over."""

NO_CNN = "**gru** has no CNN: the figures show the model's confidence only."

ATTENTION_HELP = """\
Rows: the GRU state that predicts each character; columns: the CNN features of the characters in
its window (the last 32 characters). Move the slider to see another part of the text."""

COMPARE = """\
One prompt and one seed for every strategy, generated side by side one character at a time.
The models share their random draws (common random numbers): where two models predict alike they
write the same character, so differences come from the models, not the dice. Under each column:
characters per second of the model's own computing time (its batched steps, shared with any other
visitors' texts on that model), the mean log-probability the model gave its own text (closer to
0: surer), and the share of its words found in the training plays (for your own models: in your
text). Grey in the figures: the prompt."""

SCORE = """\
Paste any text to see how surprising each character is to each model (GLTR-style colours by the
rank the model gave the character; hover for the surprisal and the model's top alternatives),
bits per character per model, and per character the difference between two models."""

RESULTS_MISSING = """\
**No results yet — run `cnngru reproduce`.** It trains and evaluates every model and writes
`results/results.json` and `results/results.md`, which this tab shows."""

REFINE_NOTE = """\
**Refine with CNN** passes the finished text through a bidirectional CNN trained to correct
character errors, and shows its edits."""

EXAMPLES = [  # in the corpus's own layout: the speaker's name on a line of its own
    "ROMEO\nBut soft, what light through yonder window breaks?\n\nJULIET\n",
    "KING HENRY\nNow, my lords, ",
    "First Citizen\nBefore we proceed any further, hear me speak.\n\nAll\n",
    "HAMLET\nO, ",
]

API_HELP = """\
Every action is an API endpoint (see "Use via API" at the bottom of the page):

```python
from gradio_client import Client
client = Client("http://127.0.0.1:7860/", analytics_enabled=False)
text, *rest = client.predict("hybrid", "ROMEO\\n", 200, 0.8, 0, 1.0, 0, False, False,
                             api_name="/generate")
```

The client is one session: models it trains on its own text (`/train_your_text`, which streams
its progress) are its own, for `/generate`, `/compare` and `/score` with "your text" as the last
argument; `/download_your_models` zips them. The Inside tab's numbers: `/inside_filters`,
`/filter_search`, `/inside_units`, `/unit_view`, `/unit_values`."""

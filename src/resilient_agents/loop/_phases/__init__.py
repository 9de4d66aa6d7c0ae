"""The phases of one agent turn, each in its own module. Private package: import from :mod:`resilient_agents.loop`.

* :mod:`._model_step` calls the model once, as a journaled ``llm: <agent> #<n>`` step.
* :mod:`._resolve` decides what the model's answer means: a final answer, tool calls, or a handoff.
* :mod:`._tool_step` runs one batch of tool calls concurrently and deterministically.
* :mod:`._handoff` switches the answering agent.
* :mod:`._interrupt` recognises a cancellation and closes the tool calls it left unanswered.
* :mod:`._outcome` holds the small dataclasses passed between them.
"""

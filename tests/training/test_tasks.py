"""The language-model task: its loss learns, and truncated BPTT carries and cuts the state."""

import torch
from training_runs import run


def test_loss_falls_on_one_repeated_batch(small_corpus, variant, tmp_path):
    trainer = run(small_corpus, tmp_path, variant=variant, lr=1e-2)
    first = None
    for _ in range(30):
        trainer.task.restore_carried({})
        loss = trainer.task.loss(trainer.net, 0, trainer.rows)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        first = first or loss.item()
    assert loss.item() < 0.6 * first


def test_the_carried_state_has_no_gradient_history_after_a_step(small_corpus, tmp_path):
    """Truncated BPTT: the state carried into the next chunk is cut from the graph, so the next
    backward pass stops at the chunk boundary (without the cut it would reach back forever)."""
    trainer = run(small_corpus, tmp_path)
    trainer.train_step()
    assert trainer.task.carried, "a language model carries its state between chunks"
    for name, tensor in trainer.task.carried.items():
        assert tensor.grad_fn is None and not tensor.requires_grad, name
    trainer.train_step()  # would raise "backward through the graph a second time" otherwise


@torch.no_grad()
def test_a_new_epoch_starts_the_streams_from_an_empty_state(small_corpus, tmp_path):
    """Mid-epoch the carried state changes the loss; at a new epoch it is dropped."""
    a, b = run(small_corpus, tmp_path / "a"), run(small_corpus, tmp_path / "b")
    b.model.load_state_dict(a.model.state_dict())
    a.model.eval(), b.model.eval()
    a.task.loss(a.net, 0, a.rows)  # a carries the state after chunk 0, b carries nothing
    assert not torch.equal(a.task.loss(a.net, 1, a.rows), b.task.loss(b.net, 1, b.rows))
    new_epoch = a.task.batches.chunks_per_epoch
    assert torch.equal(a.task.loss(a.net, new_epoch, a.rows), b.task.loss(b.net, new_epoch, b.rows))

"""This lesson's problem codes and the messages a student reads (the shared core's are in
autograder/codes.py). Each message names the lesson idea that was missed, so a student knows what
to re-read."""

from ..codes import CORE_MESSAGES, problems_from

MESSAGES = {
    **CORE_MESSAGES,
    "missing_keys": "{name} is missing the key(s) {detail}. A checkpoint bundles 'epoch', "
    "'model_state_dict', 'optimizer_state_dict' and 'loss'.",
    "state_dict_keys": "{name}: the model state_dict does not match the lesson's MNISTModel "
    "({detail}).",
    "shape_mismatch": "{name}: size mismatch for {detail} — the same error as Check 1: a "
    "state_dict only loads into the architecture that produced it.",
    "bad_epoch": "{name}: 'epoch' should be the int {expected} (the last completed epoch), "
    "found {detail}.",
    "bad_loss": "{name}: 'loss' should be a finite Python float (loss.item()), found {detail}.",
    "tensor_loss": "{name}: 'loss' is a tensor; it loads, but store loss.item(), a plain float. "
    "torch.save keeps a tensor's values, device and requires_grad flag (not its graph), so a loss "
    "tensor from a GPU run ties the file to that device.",
    "no_optimizer_state": "{name} has model weights but no Adam moments (exp_avg, exp_avg_sq). "
    "Resuming from it restarts Adam from zero: save optimizer.state_dict() after training steps.",
    "stale_optimizer_state": "{name}: the optimizer state is from step {found}, but a checkpoint "
    "of epoch {epoch} follows {expected} Adam steps. Save optimizer.state_dict() in the same "
    "epoch as the model, not from an earlier or later moment.",
    "optimizer_state": "{name}: the optimizer state is not Adam's for this model ({detail}).",
    "not_best": "{name} should hold the lowest validation loss of the run ({expected:.4f} at "
    "epoch {epoch}), found {detail}. Save 'best' only when the validation loss improves.",
    "loss_mismatch": "{name}: the recorded {key} ({recorded:.4f}) does not match the loss of "
    "its own weights on the grading data ({recomputed:.4f}). Likely causes: the value was taken "
    "before the epoch's training, from another model, with the model in train mode, or 'loss' and "
    "'val_loss' were swapped. Record 'loss' from the epoch's training and 'val_loss' from "
    "evaluate() on these same weights, right before saving.",
    "no_resume_advantage": "{name}: resuming with its optimizer state is no better than a fresh "
    "Adam (loss ratio {ratio:.2f}, expected at least {threshold:.2f}). The saved optimizer state "
    "is missing, stale or not from this run.",
    "discontinuous": "The first resumed epoch's loss ({after:.4f}) jumped above the last "
    "pre-crash loss ({before:.4f}) by more than {tolerance:.0%}: the resume did not restore the "
    "optimizer state (Adam restarted) or the model.",
    "optimizer_not_resumed": "resumed_optimizer ended the resumed training at step {found}; an "
    "Adam loaded with checkpoint['optimizer_state_dict'] continues from the checkpoint's {saved} "
    "steps and ends at {expected}. A fresh Adam restarts its moments from zero: load the "
    "optimizer state too.",
    "moments_restarted": "resumed_optimizer counts the steps of a resumed Adam, but {share:.1%} of "
    "its second moments (exp_avg_sq) are below the checkpoint's decayed over the {steps} resumed "
    "steps, which a continued Adam never goes under: its moments restarted from zero. Load the "
    "optimizer state with resumed_optimizer.load_state_dict(checkpoint['optimizer_state_dict']).",
    "no_val_history": "val_history holds no validation losses to compare best.pth with ({detail}): "
    "run Exercise 2's cell that calls train_with_checkpoints, which fills it.",
    "no_history": "The crash run recorded no loss history to compare ({detail}): fill "
    "history_before and history_after by running both cells.",
    "not_bit_identical": "Your checkpoint carries the RNG state, so on the CPU resuming must "
    "reproduce epoch {epoch} exactly: expected loss {expected!r}, found {found!r}. Restore it with "
    "torch.set_rng_state(checkpoint['rng_state']) right before the first resumed epoch.",
    "resume_epoch": "Training should resume at epoch {expected} (checkpoint['epoch'] + 1), "
    "found {detail}: one epoch is trained twice or skipped.",
    "early_stopping": "EarlyStopping differs from the reference on {detail}.",
    "early_stopping_resume": "An EarlyStopping rebuilt with load_state_dict(state_dict()) does not "
    "go on where the first one was: on the validation losses {losses}, resumed after epoch {epoch}, "
    "it {did}; one never interrupted {want}. state_dict() must hold everything step() uses "
    "(best_loss, best_epoch, counter, epoch), and load_state_dict() must restore all of it.",
    "early_stopping_state": "{name}: 'early_stopping' is not the stopper's state at its best epoch "
    "({detail}). Call stopper.step(val_loss, model) first, then save when stopper.best_epoch == "
    "epoch: the state then has best_epoch {epoch} and counter 0.",
    "not_on_cpu": "load with map_location='cpu': gpu_state's tensors should be on the CPU.",
    "not_gpu_example": "gpu_state does not hold gpu_checkpoint.pth's tensors: load that file.",
    "cpu_model_not_loaded": "load gpu_state into cpu_model.",
    "predictions_claimed": "predictions_match should be True: the loaded model must reproduce "
    "the original's outputs.",
    "predictions_differ": "predictions_match is True, but ex1_model and loaded_model, as the "
    "notebook left them, give different outputs on the same batch ({detail}): compare the outputs "
    "of the two models, both in eval mode, with torch.equal.",
    "not_eval": "call .eval() on both models before comparing: dropout and batch norm make "
    "train-mode outputs noisy.",
    "not_loaded": "loaded_model does not hold ex1_model's weights and buffers, so it cannot "
    "reproduce its outputs: load the file you saved into it.",
    "not_the_saved_weights": "ex1_model and loaded_model do not hold the weights {name} holds: "
    "save ex1_model.state_dict() once it is trained, and load that file into loaded_model.",
    "not_restored": "The final model does not hold the best checkpoint's weights: restore the "
    "best weights when early stopping ends.",
}

problem = problems_from(MESSAGES)

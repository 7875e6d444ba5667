"""lamina.robust: adversarial attacks, robust accuracy and adversarial training.

    from lamina.robust import pgd, fgsm, robust_accuracy, AdversarialBatchFn
    res = pgd(model, x, y, eps=0.3, steps=20)          # res.inputs (adversarial), res.losses (per step)
    robust_accuracy(model, x_test, y_test, eps=0.1)    # {'clean_accuracy': ..., 'robust_accuracy': ...}
    Trainer(model, "cross_entropy", opt, batch_fn=AdversarialBatchFn(model, eps=0.1)).fit(loader)
"""
from .attacks import AttackResult, attack_loss, fgsm, pgd, predict_labels
from .evaluate import ATTACKS, robust_accuracy
from .training import AdversarialBatchFn

__all__ = ["AttackResult", "attack_loss", "fgsm", "pgd", "predict_labels", "robust_accuracy", "ATTACKS",
           "AdversarialBatchFn"]

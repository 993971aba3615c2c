"""Training a style (style.py): the VGG loss network, the losses and the objective, training
photos, the resumable run and its checkpoint directory, --slow, and the quality judge."""

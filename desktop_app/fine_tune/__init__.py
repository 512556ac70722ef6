"""The fine-tuning wizard, a sub-application of the desktop app: it turns a person's cartoons (pictures, or
key-frames of their videos) and photos into a fine-tuned model, by filling the trainer's finetune preset
(`plan`), running `cartoonize-train finetune` in its own process (`training_process`, read through `events`) and
adding the result to the user's models. Its entry point is `wizard.FineTuneWizard`, which the main window opens
from Tools → Fine-tune a model…; its pages (`data_page`, `settings_page`, `training_page`, `finish_page`) share
one `session.FineTuneSession`, and the parts without Qt (`data`, `plan`, `estimate`, `events`) are tested alone.
"""
from __future__ import annotations

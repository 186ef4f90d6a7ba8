"""Synthesis: text sources and corpora, fonts, one rendered line with its effects, datasets of lines
on disk, the looks of a training mix, and synthetic pages with their line boxes. Torch-free.
"""

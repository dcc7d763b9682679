"""simpose.synth"""

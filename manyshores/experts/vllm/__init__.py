"""experts/vllm"""

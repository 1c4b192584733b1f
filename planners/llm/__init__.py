"""Planner, writer and repairer backends ``llm``: a language model plans, writes code policies
and repairs them, with prompt templates in ``planners/prompts/`` and bounded parse feedback."""

from planners.llm.coder import LLMRepairer, LLMWriter
from planners.llm.errors import ModelOutputError, OutputRejected, ProgramOutputError
from planners.llm.planner import LLMPlanner

__all__ = ["LLMPlanner", "LLMRepairer", "LLMWriter", "ModelOutputError", "OutputRejected", "ProgramOutputError"]

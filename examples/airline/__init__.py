"""Airline customer-service agent on the OpenAI Agents SDK. See README.md beside this file."""

"""Survey data (WVS), survey memory (a culture's known answers) and how a survey answer is
decided from it and the experts."""

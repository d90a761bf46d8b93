"""`CultureChatModel`: any LangChain code that takes a chat model can use manyshores."""

from __future__ import annotations

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from manyshores.graph import Components, CultureChatModel


def build_chain(components=None):
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    return prompt | CultureChatModel(components=components or Components()) | StrOutputParser()


if __name__ == "__main__":
    chain = build_chain()
    print(chain.invoke({"question": "I'm from Kenya. What is a typical breakfast?"}))
    for piece in chain.stream({"question": "I'm from Greece. How do we celebrate Easter?"}):
        print(piece, end="", flush=True)
    print()
    print(
        chain.batch(
            [
                {"question": "I live in Spain. When is lunch?"},
                {"question": "I'm from the US. What is Thanksgiving food?"},
            ]
        )
    )

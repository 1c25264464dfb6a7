from tests.test_real_client_fields import *
def test_dbg(client):
    with client.responses.stream(model=MODEL, input="Look up order A12.", tools=[NAMESPACE], tool_choice={"type": "function", "name": "lookup_order"}, temperature=0, max_output_tokens=48) as stream:
        events = [event.model_dump(mode="json", exclude_unset=True) for event in stream]
    for e in events: print(json.dumps(e)[:300])
    assert 0

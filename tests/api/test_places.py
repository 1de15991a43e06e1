"""GET /places: the gazetteer behind the forms' autocomplete."""
API = "/api/v1"


def test_search_by_postcode_and_by_name_without_accents(client, login_as):
    _, headers = login_as("trader")
    r = client.get(f"{API}/places", query_string={"q": "46000"}, headers=headers)
    assert r.status_code == 200
    assert r.json[0]["insee"] == "46042" and r.json[0]["name"] == "Cahors" and r.json[0]["department"] == "46"
    r = client.get(f"{API}/places", query_string={"q": "saint cere"}, headers=headers)
    assert r.json[0]["name"] == "Saint-Céré" and "46400" in r.json[0]["postcodes"]


def test_nearest_commune_for_use_my_location(client, login_as):
    _, headers = login_as("producer")
    r = client.get(f"{API}/places", query_string={"lat": 44.4475, "lon": 1.4419}, headers=headers)
    assert [p["name"] for p in r.json] == ["Cahors"]


def test_places_need_a_question_and_a_signed_in_user(client, login_as):
    assert client.get(f"{API}/places", query_string={"q": "46000"}).status_code == 401
    _, headers = login_as("producer")
    r = client.get(f"{API}/places", headers=headers)
    assert r.status_code == 422 and "q" in r.json["errors"]["query"]
    assert client.get(f"{API}/places", query_string={"q": "zzzzqqq"}, headers=headers).json == []

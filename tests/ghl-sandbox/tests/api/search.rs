use ghl_sandbox::{ContactSeed, SandboxConfig};
use serde_json::{Value, json};

use crate::common::{Client, LOC, start};

fn seeds(n: usize) -> Vec<ContactSeed> {
    (0..n)
        .map(|i| ContactSeed::email(&format!("s{i}@example.com")))
        .collect()
}

#[tokio::test]
async fn search_after_pages_to_the_end() {
    let sandbox = start(SandboxConfig::default()).await;
    sandbox.seed_contacts(LOC, seeds(120)).unwrap();
    let client = Client::new(&sandbox);
    for direction in ["asc", "desc"] {
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<Value> = None;
        let mut pages = 0;
        loop {
            let mut body = json!({
                "locationId": LOC,
                "pageLimit": 50,
                "sort": [{"field": "dateAdded", "direction": direction}],
            });
            if let Some(after) = &after {
                body["searchAfter"] = after.clone();
            }
            let page = client.post("/contacts/search", body).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert_eq!(page.body["total"], 120);
            let contacts = page.body["contacts"].as_array().unwrap();
            if contacts.is_empty() {
                break;
            }
            pages += 1;
            for c in contacts {
                let search_after = c["searchAfter"].as_array().unwrap();
                assert_eq!(search_after[1], c["id"]);
                assert!(search_after[0].is_i64());
                seen.push(c["id"].as_str().unwrap().to_owned());
            }
            after = Some(contacts.last().unwrap()["searchAfter"].clone());
            assert!(pages < 10);
        }
        assert_eq!(pages, 3);
        let mut expected: Vec<String> = sandbox.contacts(LOC).into_iter().map(|c| c.id).collect();
        if direction == "desc" {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{direction}");
    }
}

#[tokio::test]
async fn search_filters_on_email_and_pages_by_number() {
    let sandbox = start(SandboxConfig::default()).await;
    let seeded = sandbox.seed_contacts(LOC, seeds(30)).unwrap();
    let client = Client::new(&sandbox);
    let found = client
        .post(
            "/contacts/search",
            json!({
                "locationId": LOC,
                "pageLimit": 10,
                "filters": [{"field": "email", "operator": "eq", "value": "S7@example.com"}],
            }),
        )
        .await;
    assert_eq!(found.body["total"], 1);
    assert_eq!(found.body["contacts"][0]["id"], seeded[7].id.as_str());

    let page3 = client
        .post(
            "/contacts/search",
            json!({"locationId": LOC, "pageLimit": 10, "page": 3}),
        )
        .await;
    let ids: Vec<&str> = page3.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = sandbox.contacts(LOC).into_iter().skip(20).map(|c| c.id).collect();
    assert_eq!(ids, expected);

    let too_big = client
        .post("/contacts/search", json!({"locationId": LOC, "pageLimit": 501}))
        .await;
    assert_eq!(too_big.status, 422);
    let both = client
        .post(
            "/contacts/search",
            json!({"locationId": LOC, "pageLimit": 5, "page": 1, "searchAfter": [1, "x"]}),
        )
        .await;
    assert_eq!(both.status, 422);
}

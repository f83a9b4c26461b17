function main(input){ console.log("pair", "NEO/USD"); return {price: input.usd * 100, pair: "NEO/USD", note: "é"}; }

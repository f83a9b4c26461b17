// SPDX-License-Identifier: MIT
function main(input){ return {price: input.usd * 100, pair: "NEO/USD", note: "é"}; }

"""Names, companies, products and customer-care dialogue (Italian and English) for the demo data."""

from __future__ import annotations

from dataclasses import dataclass

# --- Reference data ----------------------------------------------------------------------------
# The tables below are data, one entry a line: the formatter would put every word on its own line.
# fmt: off

# name, restricted
TEAMS: tuple[tuple[str, bool], ...] = (
    ("Assistenza clienti", False),
    ("Customer support", False),
    ("Vendite", False),
    ("Fatturazione", False),
    ("Ufficio legale", True),
)

# email, display name, role, language, teams
AGENTS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("giulia.rossi@example.com", "Giulia Rossi", "agent", "it", ("Assistenza clienti", "Vendite")),
    ("marco.bianchi@example.com", "Marco Bianchi", "supervisor", "it", ("Assistenza clienti", "Fatturazione")),
    ("francesca.esposito@example.com", "Francesca Esposito", "agent", "it", ("Fatturazione", "Assistenza clienti")),
    ("luca.romano@example.com", "Luca Romano", "agent", "it", ("Vendite", "Assistenza clienti")),
    ("sarah.johnson@example.com", "Sarah Johnson", "supervisor", "en", ("Customer support", "Vendite")),
    ("james.wilson@example.com", "James Wilson", "agent", "en", ("Customer support",)),
    ("emily.clarke@example.com", "Emily Clarke", "agent", "en", ("Customer support", "Fatturazione")),
    ("paolo.greco@example.com", "Avv. Paolo Greco", "agent", "it", ("Ufficio legale",)),
    ("alessandra.conti@example.com", "Alessandra Conti", "admin", "it", ("Ufficio legale", "Assistenza clienti")),
)

# name, kind, team, weight for Italian customers, weight for English customers
INBOXES: tuple[tuple[str, str, str, int, int], ...] = (
    ("Assistenza clienti · email", "email", "Assistenza clienti", 24, 2),
    ("Customer support · email", "email", "Customer support", 2, 26),
    ("Fatturazione · email", "email", "Fatturazione", 5, 3),
    ("Modulo contatti del sito", "webform", "Vendite", 8, 6),
    ("Chat del sito", "webchat", "Assistenza clienti", 14, 12),
    ("WhatsApp +39 02 9475 1200", "whatsapp", "Assistenza clienti", 22, 8),
    ("Telegram @premura_shop_bot", "telegram", "Customer support", 4, 6),
    ("Facebook Messenger", "messenger", "Customer support", 5, 14),
    ("Instagram Direct", "instagram", "Vendite", 5, 7),
    ("SMS +39 347 000 1200", "sms", "Assistenza clienti", 4, 3),
    ("API e-commerce", "api", "Customer support", 7, 13),
)

LABELS: tuple[tuple[str, str], ...] = (
    ("shipping", "#2563eb"),
    ("refund", "#d97706"),
    ("invoice", "#059669"),
    ("complaint", "#dc2626"),
    ("vip", "#7c3aed"),
    ("bug", "#be123c"),
    ("account", "#0891b2"),
    ("warranty", "#65a30d"),
    ("urgent", "#b91c1c"),
    ("feedback", "#6b7280"),
)

FORMAL_KINDS = frozenset({"email", "webform", "api"})
# Median first-response and customer-reply delays in seconds per kind of channel.
RESPONSE_DELAY = {"formal": 4 * 3600.0, "chat": 90.0, "messaging": 25 * 60.0}
CUSTOMER_DELAY = {"formal": 6 * 3600.0, "chat": 60.0, "messaging": 20 * 60.0}

# --- People and companies ----------------------------------------------------------------------

IT_FIRST = (
    "Giulia", "Marco", "Francesca", "Luca", "Alessandro", "Chiara", "Matteo", "Sara", "Lorenzo",
    "Martina", "Andrea", "Elena", "Davide", "Valentina", "Simone", "Federica", "Stefano", "Paola",
    "Giorgio", "Laura", "Riccardo", "Silvia", "Fabio", "Anna", "Paolo", "Roberta", "Antonio",
    "Elisa", "Giuseppe", "Beatrice", "Nicolò", "Ilaria",
)
IT_LAST = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
    "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso",
    "Ferrara", "Galli", "Martini", "Leone", "D'Angelo", "Sala",
)
EN_FIRST = (
    "Oliver", "Amelia", "George", "Olivia", "Harry", "Isla", "Jack", "Emily", "Charlie", "Sophie",
    "Thomas", "Grace", "James", "Lily", "William", "Chloe", "Daniel", "Hannah", "Michael",
    "Jessica", "David", "Sarah", "Matthew", "Emma", "Samuel", "Lucy",
)
EN_LAST = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
    "Clarke", "Harris", "Lewis", "Martin", "Cooper", "Hughes", "O'Brien",
)
# Reserved example domains only: demo data must never reach a real mailbox.
IT_MAIL_DOMAINS = ("example.com", "example.org", "posta.example.net", "libero.example")
EN_MAIL_DOMAINS = ("example.com", "example.net", "mail.example.org", "inbox.example")
IT_COMPANY = ("{last} S.r.l.", "{last} & Figli S.p.A.", "Officine {last}", "{last} Logistica S.r.l.", "Studio {last}")
EN_COMPANY = ("{last} Ltd", "{last} & Sons", "{last} Logistics Ltd", "{last} Trading plc", "{last} Consulting")
IT_MOBILE_PREFIXES = ("320", "324", "328", "329", "333", "334", "338", "339", "340", "345", "347", "348", "349", "351", "366", "389")
PLANS = ("basic", "plus", "premium", "business")

IT_PRODUCTS = (
    "lavatrice EcoWash 8 kg", "cuffie Bluetooth Aria Pro", "macchina da caffè Aroma",
    "zaino da trekking 40 L", "smartwatch Fit 3", "aspirapolvere senza filo Turbo",
    "friggitrice ad aria Crispy", "materasso Memory Plus",
)
EN_PRODUCTS = (
    "EcoWash 8 kg washing machine", "Aria Pro Bluetooth headphones", "Aroma coffee machine",
    "40 L hiking backpack", "Fit 3 smartwatch", "Turbo cordless vacuum cleaner",
    "Crispy air fryer", "Memory Plus mattress",
)


# --- Dialogue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """What a case is about, with the lines customers and agents write about it."""

    key: str
    weight: int
    label: str | None
    team: str | None
    subjects: dict[str, tuple[str, ...]]
    openings: dict[str, tuple[str, ...]]
    first_replies: dict[str, tuple[str, ...]]
    followups: dict[str, tuple[str, ...]]
    replies: dict[str, tuple[str, ...]]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "delivery", 18, "shipping", None,
        subjects={
            "it": ("Ordine {order} non ancora arrivato", "Dove si trova il mio pacco?", "Ritardo consegna ordine {order}"),
            "en": ("Order {order} has not arrived", "Where is my parcel?", "Late delivery for order {order}"),
        },
        openings={
            "it": (
                "Ho ordinato {product} il {date} (ordine {order}) ma non è ancora arrivato nulla. Il tracking è fermo da giorni.",
                "Il corriere risulta passato ma a casa non c'era nessun avviso. Ordine {order}, potete verificare?",
                "Avevo scelto la consegna in 48 ore ma sono passati 5 giorni. Mi dite che fine ha fatto l'ordine {order}?",
            ),
            "en": (
                "I ordered the {product} on {date} (order {order}) and nothing has arrived yet. Tracking hasn't moved for days.",
                "The courier says they tried to deliver but there was no card at home. Order {order}, can you check?",
                "I paid for 48-hour delivery but it's been 5 days. What happened to order {order}?",
            ),
        },
        first_replies={
            "it": (
                "Ho verificato con il corriere: il pacco {tracking} è in giacenza al deposito di zona e verrà riconsegnato domani entro le 18.",
                "Mi scuso per il ritardo. Il pacco {tracking} è stato rallentato da un problema allo smistamento; ho sollecitato la consegna prioritaria.",
                "Il pacco risulta in consegna oggi. Se non dovesse arrivare entro stasera mi riscriva e apriamo una pratica di smarrimento.",
            ),
            "en": (
                "I checked with the courier: parcel {tracking} is held at the local depot and will be redelivered tomorrow before 6 pm.",
                "Sorry for the delay. Parcel {tracking} was held up at the sorting centre; I have asked for priority delivery.",
                "The parcel shows as out for delivery today. If it doesn't arrive by tonight, write back and we'll open a lost-parcel claim.",
            ),
        },
        followups={
            "it": ("Ancora niente, il tracking dice sempre la stessa cosa.", "Posso ritirarlo io al deposito? Domani non sono a casa.", "Ok, aspetto allora. Mi servirebbe entro venerdì."),
            "en": ("Still nothing, the tracking says the same thing.", "Can I collect it at the depot myself? I'm out tomorrow.", "OK, I'll wait then. I really need it by Friday."),
        },
        replies={
            "it": ("Certo, può ritirarlo con un documento e il codice {tracking}. Le ho inviato l'indirizzo del deposito via SMS.", "Ho aperto una segnalazione al corriere (rif. {ref}); se entro 48 ore non si sblocca le rispediamo l'articolo gratuitamente."),
            "en": ("Of course, you can collect it with ID and the code {tracking}. I've texted you the depot address.", "I've opened a claim with the courier (ref. {ref}); if it isn't sorted within 48 hours we'll ship a replacement free of charge."),
        },
    ),
    Topic(
        "refund", 14, "refund", None,
        subjects={
            "it": ("Richiesta di reso e rimborso", "Rimborso non ancora ricevuto", "Reso ordine {order}"),
            "en": ("Return and refund request", "Refund not received yet", "Returning order {order}"),
        },
        openings={
            "it": (
                "Vorrei restituire {product} dell'ordine {order}: non corrisponde alla descrizione. Come faccio il reso?",
                "Ho spedito il reso due settimane fa ma il rimborso di {amount} non è ancora arrivato sulla carta.",
                "Il prodotto non mi serve più, è ancora imballato. Posso avere il rimborso?",
            ),
            "en": (
                "I'd like to return the {product} from order {order}: it doesn't match the description. How do I send it back?",
                "I sent the return two weeks ago but the refund of {amount} still hasn't reached my card.",
                "I no longer need the product, it's still sealed. Can I get a refund?",
            ),
        },
        first_replies={
            "it": (
                "Le ho generato l'etichetta di reso gratuita, la trova in allegato all'email. Il rimborso parte appena il magazzino riceve il pacco.",
                "Il reso è arrivato in magazzino il {date}. Ho autorizzato il rimborso di {amount}: vedrà l'accredito in 3-5 giorni lavorativi.",
                "Certo, ha 30 giorni per il recesso. Può prenotare il ritiro gratuito dalla sua area clienti, sezione Ordini.",
            ),
            "en": (
                "I've created a free return label for you, it's attached to the email. The refund is issued as soon as the warehouse receives the parcel.",
                "Your return reached the warehouse on {date}. I've approved the refund of {amount}: it will show on your card in 3-5 working days.",
                "Of course, you have 30 days to return it. You can book a free pickup from your account, under Orders.",
            ),
        },
        followups={
            "it": ("Il rimborso va sulla stessa carta usata per pagare?", "Ho prenotato il ritiro per giovedì.", "Non trovo l'etichetta, me la potete rimandare?"),
            "en": ("Will the refund go back to the card I paid with?", "I've booked the pickup for Thursday.", "I can't find the label, could you send it again?"),
        },
        replies={
            "it": ("Sì, il rimborso torna sempre sul metodo di pagamento originale.", "Gliel'ho appena rinviata all'indirizzo {email}; controlli anche nello spam."),
            "en": ("Yes, refunds always go back to the original payment method.", "I've just sent it again to {email}; please check your spam folder too."),
        },
    ),
    Topic(
        "invoice", 10, "invoice", "Fatturazione",
        subjects={
            "it": ("Richiesta fattura ordine {order}", "Fattura elettronica con partita IVA", "Fattura {invoice} errata"),
            "en": ("Invoice request for order {order}", "VAT invoice needed", "Invoice {invoice} is wrong"),
        },
        openings={
            "it": (
                "Mi serve la fattura per l'ordine {order}, intestata alla mia azienda. Vi mando i dati di fatturazione?",
                "Nella fattura {invoice} manca il codice SDI, la potete riemettere?",
                "La ragione sociale sulla fattura {invoice} è sbagliata, serve una nota di credito?",
            ),
            "en": (
                "I need an invoice for order {order} addressed to my company. Shall I send you the billing details?",
                "Invoice {invoice} is missing our VAT number, could you reissue it?",
                "The company name on invoice {invoice} is wrong, do you need to issue a credit note?",
            ),
        },
        first_replies={
            "it": (
                "Ho riemesso la fattura {invoice} con i dati corretti: la trova nell'area clienti e l'abbiamo inviata allo SDI.",
                "Certo, mi indichi ragione sociale, partita IVA e codice destinatario e le emetto la fattura in giornata.",
                "Ho emesso la nota di credito e la nuova fattura; entrambe le riceverà via PEC entro domani.",
            ),
            "en": (
                "I've reissued invoice {invoice} with the correct details: it's in your account and has been sent by email.",
                "Sure, send me the company name, VAT number and billing address and I'll issue the invoice today.",
                "I've issued a credit note and a new invoice; you'll receive both by email by tomorrow.",
            ),
        },
        followups={
            "it": ("Ecco i dati: {last} S.r.l., P.IVA 0{vat}, codice destinatario M5UXCR1.", "Perfetto, ma serve anche per l'ordine precedente."),
            "en": ("Here you go: {last} Ltd, VAT GB{vat}, 10 High Street, London.", "Great, but I also need one for the previous order."),
        },
        replies={
            "it": ("Fatto, ho emesso anche la fattura dell'ordine precedente.", "Ricevuti, grazie. La fattura {invoice} è in emissione."),
            "en": ("Done, I've issued the invoice for the previous order as well.", "Received, thank you. Invoice {invoice} is on its way."),
        },
    ),
    Topic(
        "double_charge", 6, "refund", "Fatturazione",
        subjects={
            "it": ("Addebito doppio sulla carta", "Mi avete addebitato due volte {amount}"),
            "en": ("Charged twice on my card", "You charged me {amount} twice"),
        },
        openings={
            "it": ("Sull'estratto conto vedo due addebiti da {amount} per lo stesso ordine {order}. Potete controllare?", "Il pagamento sembrava fallito, ho riprovato e ora risultano due addebiti."),
            "en": ("My statement shows two charges of {amount} for the same order {order}. Can you check?", "The payment looked like it failed, I tried again and now there are two charges."),
        },
        first_replies={
            "it": ("Ha ragione, il secondo addebito è una preautorizzazione che la banca rilascerà entro 5 giorni. Ho comunque chiesto lo storno.", "Confermo il doppio addebito. Ho disposto il rimborso di {amount}, vedrà l'accredito in pochi giorni."),
            "en": ("You're right, the second charge is a pre-authorisation your bank will release within 5 days. I've asked for it to be voided anyway.", "I confirm the double charge. I've refunded {amount}, it will show in a few days."),
        },
        followups={
            "it": ("Sono passati 5 giorni e l'addebito c'è ancora.", "Ok, grazie della verifica."),
            "en": ("It's been 5 days and the charge is still there.", "OK, thanks for checking."),
        },
        replies={
            "it": ("Le allego la ricevuta dello storno con il codice ARN da mostrare alla banca.",),
            "en": ("I've attached the refund receipt with the ARN code you can show your bank.",),
        },
    ),
    Topic(
        "account", 10, "account", None,
        subjects={
            "it": ("Non riesco ad accedere al mio account", "Reset password non funziona", "Cambio email dell'account"),
            "en": ("I can't log in to my account", "Password reset doesn't work", "Change the email on my account"),
        },
        openings={
            "it": ("Quando provo ad accedere mi dice che la password è sbagliata, ma sono sicuro che è giusta.", "Non mi arriva l'email per reimpostare la password.", "Vorrei cambiare l'indirizzo email collegato al mio account."),
            "en": ("When I try to log in it says my password is wrong, but I'm sure it's right.", "The password reset email never arrives.", "I'd like to change the email address on my account."),
        },
        first_replies={
            "it": ("L'account era bloccato dopo troppi tentativi; l'ho sbloccato. Provi ora con 'Password dimenticata'.", "L'email di reset risulta consegnata: controlli nello spam o nella cartella Promozioni.", "Per sicurezza le ho inviato un codice di verifica al vecchio indirizzo: me lo può indicare?"),
            "en": ("The account was locked after too many attempts; I've unlocked it. Please try 'Forgot password' now.", "The reset email shows as delivered: please check your spam or Promotions folder.", "For security I've sent a verification code to your old address: could you tell me what it is?"),
        },
        followups={
            "it": ("Trovata nello spam, ora funziona.", "Il codice è 48{vat}.", "Continua a dirmi errore."),
            "en": ("Found it in spam, it works now.", "The code is 48{vat}.", "It still gives me an error."),
        },
        replies={
            "it": ("Ho aggiornato l'indirizzo: da ora riceverà le comunicazioni al nuovo indirizzo.", "Ho forzato il reset dal nostro lato, le arriverà un link valido 30 minuti."),
            "en": ("I've updated the address: you'll receive our emails there from now on.", "I've forced a reset from our side, you'll get a link valid for 30 minutes."),
        },
    ),
    Topic(
        "presales", 10, None, "Vendite",
        subjects={
            "it": ("Informazioni su {product}", "Disponibilità {product}", "Domanda prima dell'acquisto"),
            "en": ("Question about the {product}", "Is the {product} in stock?", "Question before buying"),
        },
        openings={
            "it": ("Il modello {product} è compatibile con gli accessori della versione precedente?", "Quando torna disponibile {product}? Lo vorrei regalare per un compleanno.", "Fate consegne anche in Svizzera? E con che costi?"),
            "en": ("Is the {product} compatible with the previous model's accessories?", "When will the {product} be back in stock? I'd like it as a birthday present.", "Do you ship to Ireland? How much does it cost?"),
        },
        first_replies={
            "it": ("Sì, è compatibile con tutti gli accessori della serie precedente.", "Il riassortimento è previsto per il {date}; se vuole la avviso appena torna disponibile.", "Sì, spediamo in Svizzera con corriere espresso; i costi li vede nel carrello prima di pagare."),
            "en": ("Yes, it works with all the accessories of the previous series.", "We expect new stock on {date}; I can let you know as soon as it's back.", "Yes, we ship there by express courier; you'll see the cost in the basket before paying."),
        },
        followups={
            "it": ("Perfetto, e la garanzia quanto dura?", "Sì grazie, avvisatemi.", "C'è uno sconto per più pezzi?"),
            "en": ("Great, and how long is the warranty?", "Yes please, let me know.", "Is there a discount for several units?"),
        },
        replies={
            "it": ("La garanzia è di 24 mesi, estendibile a 36 con la registrazione del prodotto.", "Per ordini da 5 pezzi in su le preparo un'offerta dedicata."),
            "en": ("The warranty is 24 months, extended to 36 if you register the product.", "For 5 units or more I can prepare a dedicated quote."),
        },
    ),
    Topic(
        "damaged", 8, "warranty", None,
        subjects={
            "it": ("Prodotto arrivato danneggiato", "{product} non funziona", "Richiesta assistenza in garanzia"),
            "en": ("Item arrived damaged", "The {product} doesn't work", "Warranty repair request"),
        },
        openings={
            "it": ("Il pacco è arrivato con la scatola schiacciata e {product} ha il vetro rotto.", "Dopo due mesi {product} non si accende più.", "Fa un rumore strano da quando l'ho acceso la prima volta."),
            "en": ("The box arrived crushed and the {product} has a cracked glass.", "After two months the {product} won't switch on any more.", "It has made a strange noise since I first switched it on."),
        },
        first_replies={
            "it": ("Mi dispiace molto. Mi può mandare una foto del danno e dell'imballo? Procediamo subito con la sostituzione.", "È coperto da garanzia: le ho aperto la pratica {ref} e prenotato il ritiro per la riparazione.", "Provi a fare un reset tenendo premuto il tasto di accensione per 10 secondi; se non risolve lo sostituiamo."),
            "en": ("I'm very sorry. Could you send me a photo of the damage and the packaging? We'll replace it straight away.", "It's under warranty: I've opened case {ref} and booked a pickup for the repair.", "Please try a reset by holding the power button for 10 seconds; if that doesn't help we'll replace it."),
        },
        followups={
            "it": ("Ecco le foto.", "Il reset non ha funzionato.", "Quanto tempo ci vuole per la riparazione?"),
            "en": ("Here are the photos.", "The reset didn't help.", "How long does the repair take?"),
        },
        replies={
            "it": ("Grazie, ho spedito il prodotto sostitutivo: arriverà entro 48 ore, il ritiro del vecchio è contestuale.", "La riparazione richiede in media 7 giorni lavorativi dalla ricezione."),
            "en": ("Thanks, I've shipped a replacement: it will arrive within 48 hours and the courier will collect the old one.", "Repairs take 7 working days on average from when we receive the item."),
        },
    ),
    Topic(
        "address", 6, "shipping", None,
        subjects={
            "it": ("Cambio indirizzo di consegna", "Modifica ordine {order}"),
            "en": ("Change of delivery address", "Change to order {order}"),
        },
        openings={
            "it": ("Ho sbagliato l'indirizzo nell'ordine {order}: è via Garibaldi 12, non 21. Si può correggere?", "Posso far consegnare l'ordine {order} in ufficio invece che a casa?"),
            "en": ("I got the address wrong on order {order}: it's 12 Station Road, not 21. Can you fix it?", "Can order {order} be delivered to my office instead of home?"),
        },
        first_replies={
            "it": ("L'ordine non è ancora partito, ho corretto l'indirizzo.", "Il pacco è già affidato al corriere; ho richiesto la modifica dell'indirizzo, le confermo appena accettata."),
            "en": ("The order hasn't shipped yet, I've corrected the address.", "The parcel is already with the courier; I've requested the address change and will confirm once it's accepted."),
        },
        followups={
            "it": ("Grazie, mi confermate quando parte?",),
            "en": ("Thanks, can you confirm when it ships?",),
        },
        replies={
            "it": ("È partito oggi, tracking {tracking}.",),
            "en": ("It shipped today, tracking {tracking}.",),
        },
    ),
    Topic(
        "cancel", 6, None, None,
        subjects={
            "it": ("Disdetta abbonamento", "Annullare il rinnovo automatico"),
            "en": ("Cancel my subscription", "Turn off automatic renewal"),
        },
        openings={
            "it": ("Vorrei disdire l'abbonamento {plan} prima del rinnovo del {date}.", "Mi è arrivato l'addebito del rinnovo ma avevo chiesto di annullarlo."),
            "en": ("I'd like to cancel my {plan} subscription before it renews on {date}.", "I've been charged for the renewal but I had asked to cancel it."),
        },
        first_replies={
            "it": ("Ho disattivato il rinnovo automatico: l'abbonamento resta attivo fino alla scadenza.", "Ha ragione, la richiesta non era stata registrata. Ho annullato il rinnovo e disposto il rimborso di {amount}."),
            "en": ("I've turned off automatic renewal: the subscription stays active until it expires.", "You're right, your request wasn't recorded. I've cancelled the renewal and refunded {amount}."),
        },
        followups={
            "it": ("Posso riattivarlo più avanti mantenendo lo stesso prezzo?",),
            "en": ("Can I reactivate later at the same price?",),
        },
        replies={
            "it": ("Sì, entro 6 mesi mantiene la tariffa attuale.",),
            "en": ("Yes, within 6 months you keep your current price.",),
        },
    ),
    Topic(
        "bug", 6, "bug", None,
        subjects={
            "it": ("L'app si chiude all'avvio", "Errore durante il pagamento", "Non riesco a caricare lo scontrino"),
            "en": ("The app crashes on start", "Error at checkout", "Can't upload my receipt"),
        },
        openings={
            "it": ("Dall'ultimo aggiornamento l'app si chiude appena la apro. Ho un Android 14.", "Al momento del pagamento compare 'Errore 502' e non riesco a completare l'ordine.", "Quando carico la foto dello scontrino resta bloccato al 90%."),
            "en": ("Since the last update the app closes as soon as I open it. I'm on iOS 17.", "At checkout I get 'Error 502' and can't complete the order.", "When I upload the photo of my receipt it gets stuck at 90%."),
        },
        first_replies={
            "it": ("Grazie della segnalazione, è un problema noto della versione 4.2: il fix esce domani. Nel frattempo può usare il sito.", "Ho passato la segnalazione al team tecnico con il riferimento {ref}. Può dirmi che browser usa?"),
            "en": ("Thanks for reporting it, it's a known issue in version 4.2: the fix ships tomorrow. Meanwhile you can use the website.", "I've passed this to our engineers under reference {ref}. Which browser are you using?"),
        },
        followups={
            "it": ("Uso Chrome aggiornato.", "Aggiornato, ora funziona."),
            "en": ("Latest Chrome.", "Updated, it works now."),
        },
        replies={
            "it": ("Il problema è stato risolto lato server, può riprovare.",),
            "en": ("The issue has been fixed on our side, please try again.",),
        },
    ),
    Topic(
        "legal", 3, "complaint", "Ufficio legale",
        subjects={
            "it": ("Reclamo formale", "Richiesta di accesso ai dati personali (GDPR)", "Diffida"),
            "en": ("Formal complaint", "Subject access request (GDPR)", "Letter before action"),
        },
        openings={
            "it": ("Con la presente presento reclamo formale per la mancata consegna dell'ordine {order} nonostante i numerosi solleciti.", "Ai sensi dell'art. 15 GDPR chiedo copia di tutti i dati personali che trattate su di me.", "Il mio avvocato vi contatterà se entro 8 giorni non riceverò il rimborso di {amount}."),
            "en": ("I am writing to make a formal complaint about order {order}, which has not been delivered despite repeated requests.", "Under Article 15 GDPR I request a copy of all the personal data you hold about me.", "My solicitor will contact you if I do not receive the refund of {amount} within 8 days."),
        },
        first_replies={
            "it": ("Abbiamo ricevuto il suo reclamo, protocollato con il numero {ref}. Le risponderemo per iscritto entro 30 giorni.", "Confermiamo la ricezione della richiesta; le invieremo l'estratto dei dati entro i termini di legge."),
            "en": ("We have received your complaint, logged under number {ref}. We will reply in writing within 30 days.", "We confirm receipt of your request; we will send you a copy of your data within the legal time limit."),
        },
        followups={
            "it": ("Resto in attesa di riscontro.",),
            "en": ("I look forward to your reply.",),
        },
        replies={
            "it": ("In allegato trova la nostra risposta formale e l'estratto dei dati richiesti.",),
            "en": ("Please find attached our formal response and the data you requested.",),
        },
    ),
    Topic(
        "quote", 3, None, "Vendite",
        subjects={
            "it": ("Richiesta preventivo per {last} S.r.l.", "Offerta per ordine aziendale"),
            "en": ("Quote request for {last} Ltd", "Business order quote"),
        },
        openings={
            "it": ("Siamo un'azienda di 40 dipendenti e vorremmo un preventivo per 25 unità di {product}.", "Avete listini dedicati per rivenditori?"),
            "en": ("We're a 40-person company and would like a quote for 25 units of {product}.", "Do you have reseller price lists?"),
        },
        first_replies={
            "it": ("Grazie per l'interesse! Le allego il preventivo con lo sconto volumi del 12%, valido 30 giorni.", "Sì, le invio il listino rivenditori e le condizioni di pagamento a 60 giorni."),
            "en": ("Thanks for your interest! Attached is a quote with a 12% volume discount, valid for 30 days.", "Yes, I'm sending you our reseller price list and 60-day payment terms."),
        },
        followups={
            "it": ("Possiamo avere la consegna entro fine mese?",),
            "en": ("Could we have delivery by the end of the month?",),
        },
        replies={
            "it": ("Sì, confermando entro venerdì garantiamo la consegna entro fine mese.",),
            "en": ("Yes, if you confirm by Friday we can deliver by the end of the month.",),
        },
    ),
)

GREETING = {"it": ("Buongiorno,\n\n", "Salve,\n\n", "Gentili signori,\n\n", ""), "en": ("Hello,\n\n", "Hi,\n\n", "Dear support team,\n\n", "")}
SIGNATURE = {"it": ("\n\nGrazie,\n{first} {last}", "\n\nCordiali saluti\n{first} {last}", "\n\n{first}"), "en": ("\n\nThanks,\n{first} {last}", "\n\nKind regards,\n{first} {last}", "\n\n{first}")}
CHAT_OPENER = {"it": ("Buongiorno! ", "Ciao, ", "Salve, ", ""), "en": ("Hi! ", "Hello, ", "Good morning, ", "")}
AGENT_HELLO_FORMAL = {"it": ("Gentile {first},\n\n", "Buongiorno {first},\n\n"), "en": ("Dear {first},\n\n", "Hello {first},\n\n")}
AGENT_SIGNOFF_FORMAL = {"it": ("\n\nUn cordiale saluto,\n{agent}\n{team}", "\n\nResto a disposizione.\n{agent}"), "en": ("\n\nKind regards,\n{agent}\n{team}", "\n\nBest wishes,\n{agent}")}
AGENT_HELLO_CHAT = {"it": ("Ciao {first}, sono {agent}. ", "Buongiorno {first}! ", ""), "en": ("Hi {first}, {agent} here. ", "Hello {first}! ", "")}
CUSTOMER_THANKS = {
    "it": ("Perfetto, grazie mille!", "Tutto risolto, grazie per la disponibilità.", "Ricevuto, grazie.", "Ottimo, gentilissimi."),
    "en": ("Perfect, thank you so much!", "All sorted, thanks for your help.", "Got it, thanks.", "Great, very kind of you."),
}
AGENT_CLOSING = {
    "it": ("Se le serve altro siamo qui. Buona giornata!", "Chiudo la pratica; se ci fossero altri problemi basta rispondere a questo messaggio.", "Grazie a lei, buona serata!"),
    "en": ("If you need anything else we're here. Have a nice day!", "I'll close this case; if anything else comes up just reply to this message.", "Thank you, have a good evening!"),
}
NOTES = {
    "it": ("Cliente già sentito la settimana scorsa per lo stesso ordine.", "Verificato su gestionale: pagamento ok, spedizione partita il {date}.", "Chiesto a magazzino, attendo conferma.", "Attenzione: cliente business, gestire con priorità."),
    "en": ("Same customer contacted us last week about this order.", "Checked the back office: payment OK, shipped on {date}.", "Asked the warehouse, waiting for confirmation.", "Heads-up: business customer, handle with priority."),
}
HANDOVER = {
    "it": ("Passo a voi: richiesta di competenza vostra.", "Giro al team competente, il cliente attende risposta entro oggi."),
    "en": ("Handing over: this one is for your team.", "Passing to the right team, customer expects an answer today."),
}
# fmt: on

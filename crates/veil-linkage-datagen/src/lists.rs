//! Embedded value lists (written for Veil, roughly ordered by commonness) and
//! Zipf-weighted sampling over them.

use rand::Rng;
use std::sync::OnceLock;

/// Female given names.
pub const FEMALE: &str = "emily jessica sarah olivia chloe emma charlotte sophie hannah grace \
ella mia isabella lily ruby amelia zoe lucy georgia jasmine madison holly laura rebecca \
michelle lisa karen jennifer amanda nicole melissa kylie rachel kate katherine elizabeth \
margaret mary patricia susan helen deborah christine julie kim angela tanya natalie \
stephanie samantha danielle alexandra victoria caitlin courtney brooke tayla bianca \
jade kayla megan alice abigail ava matilda harriet evelyn violet eleanor annabelle \
scarlett phoebe imogen isla willow claire joanne sharon wendy tracey leanne vanessa \
catherine anne jane judith barbara dorothy joan carol irene gloria rose beatrice \
louise heather fiona alison diane janet maria teresa monica sandra kathleen \
jacqueline denise pamela lauren tahlia sienna mackenzie abby naomi eliza penelope";

/// Male given names.
pub const MALE: &str = "jack thomas james joshua william lachlan daniel samuel benjamin \
matthew ryan nicholas michael liam ethan oliver noah lucas alexander harrison cooper \
riley jacob luke dylan jayden mitchell nathan christopher andrew david john robert \
peter paul mark stephen richard anthony timothy craig scott jason shane brett darren \
glenn wayne dean adam aaron joseph edward charles henry george frederick arthur albert \
harold kenneth ronald donald raymond gregory gary bruce keith colin graham ian neil \
stuart alan brian kevin patrick sean callum connor jordan tyler blake jake zachary \
max oscar archie hunter logan hudson leo isaac flynn angus hamish fraser kieran \
declan mason jesse toby xavier elijah sebastian charlie harry finn jasper louis";

/// Surnames.
pub const SURNAMES: &str = "smith jones williams brown wilson taylor johnson white martin \
anderson thompson nguyen thomas walker harris lee ryan robinson kelly king davis wright \
evans roberts green hall wood jackson clarke patel khan lewis james phillips mitchell \
campbell hughes turner edwards young morris cook murphy scott bell collins stewart \
morgan allen watson clark baker cooper ward hill moore carter parker richardson shaw \
wong chen tran le pham huang zhang wang li liu singh kumar sharma gill \
mcdonald macdonald o'brien fraser graham robertson reid ross murray hamilton gordon \
kennedy henderson cameron johnston duncan grant russell simpson marshall ferguson \
armstrong black wallace douglas kerr boyd hunter burns gibson mckenzie mclean \
russo rossi romano ricci costa ferrari esposito bianchi papadopoulos nikolaou \
fisher hart holmes hunt jenkins knight lawrence mason matthews mills owen palmer \
pearce price rose saunders stevens sullivan walsh webb west wheeler wilkinson \
butler barnes bailey bennett brooks chapman cole cox dixon ellis fox gray harvey \
hayes hudson jordan lane long marsh newman payne pope porter powell reynolds \
riley rogers sanders shepherd spencer stone sutton tucker wells woods barker \
dawson day fleming ford francis gardner holland howard hopkins lloyd lynch \
neumann painter parr stanley mcgrath doyle quinn byrne gallagher brennan fitzgerald \
schmidt muller weber becker hoffmann schultz koch richter klein wolf bauer \
novak horvat kowalski nowak wisniewski jovanovic petrovic ivanov popov \
nakamura tanaka suzuki sato kim park choi jung kang yoon";

/// Street names (combined with a [`STREET_TYPES`] suffix).
pub const STREETS: &str = "main high church station george king queen victoria william \
elizabeth albert park railway bridge mill water river hill forest ocean beach bay \
marine harbour canal wattle acacia banksia bottlebrush grevillea jacaranda eucalypt \
waratah kurrajong ironbark stringybark boronia melaleuca casuarina lilly pilly \
oak elm ash birch maple cedar pine willow laurel myrtle rosemary lavender \
stanley pinkerton salkauskas macquoid macquarie phillip bligh hunter darling \
bourke mitchell sturt flinders bass hume hovell oxley kennedy leichhardt eyre \
lawson blaxland wentworth burke wills cook banks endeavour discovery investigator \
collins swanston russell exhibition spencer lonsdale bourke flemington sydney \
melbourne brisbane adelaide hobart perth darwin canberra newcastle wollongong \
ballarat bendigo geelong toowoomba cairns townsville mackay bundaberg \
anzac remembrance federation coronation jubilee centenary heritage pioneer settlers \
scenic panorama vista ridge valley glen gully creek springs lagoon lakes \
wellington nelson raglan wolseley gordon kitchener haig monash chauvel \
boundary mount grove orchard farm dairy quarry mine gold silver copper";

/// Street type suffixes, weighted by list order.
pub const STREET_TYPES: &str = "street road avenue drive court place crescent close \
parade lane way circuit terrace grove boulevard highway square";

/// Suburb / locality names.
pub const SUBURBS: &str = "richlands|dapto|winston hills|south grafton|kela|bega flats|\
broadbridge|miami|toorak|carlton|fitzroy|richmond|brunswick|coburg|preston|northcote|\
parramatta|blacktown|penrith|liverpool|campbelltown|bankstown|hornsby|chatswood|\
ryde|epping|manly|mosman|bondi|randwick|coogee|maroubra|cronulla|sutherland|\
kogarah|hurstville|strathfield|burwood|ashfield|leichhardt|balmain|glebe|newtown|\
marrickville|petersham|enmore|redfern|waterloo|zetland|mascot|botany|matraville|\
toowong|indooroopilly|kenmore|chermside|aspley|carindale|wynnum|manly west|\
sunnybank|springwood|logan central|ipswich|redcliffe|caboolture|nambour|noosa|\
maroochydore|caloundra|southport|surfers paradise|burleigh heads|coolangatta|\
glenelg|norwood|unley|prospect|salisbury|elizabeth|modbury|marion|noarlunga|\
fremantle|subiaco|cottesloe|scarborough|joondalup|midland|armadale|rockingham|\
mandurah|bunbury|albany|geraldton|kalgoorlie|broome|karratha|port hedland|\
sandy bay|battery point|glenorchy|kingston|launceston|devonport|burnie|\
belconnen|woden|tuggeranong|gungahlin|civic|kingston act|narrabundah|\
palmerston|casuarina|nightcliff|alice springs|katherine|tennant creek|\
orange|bathurst|dubbo|tamworth|armidale|lismore|ballina|byron bay|coffs harbour|\
port macquarie|taree|forster|maitland|cessnock|singleton|muswellbrook|\
goulburn|queanbeyan|wagga wagga|albury|griffith|leeton|young|cowra|parkes|\
mildura|shepparton|wangaratta|wodonga|traralgon|sale|bairnsdale|warrnambool|\
horsham|ararat|hamilton|portland|colac|torquay|lorne|healesville|lilydale|\
frankston|dandenong|cranbourne|pakenham|werribee|sunbury|melton|craigieburn|\
mount gambier|murray bridge|victor harbor|whyalla|port augusta|port lincoln|\
emerald|rockhampton|gladstone|hervey bay|maryborough|gympie|warwick|stanthorpe|\
dalby|roma|charleville|longreach|mount isa|innisfail|atherton|port douglas";

/// Building / property name suffixes for `address_2`.
pub const PLACE_SUFFIXES: &str = "|manor|village|flats|gardens|house|court|lodge|park|\
estate|retirement village|towers|homestead|farm|station|cottage";

/// Australian state codes with weights (roughly by population).
pub const STATES: [(&str, u32, u32, u32); 8] = [
    ("nsw", 32, 2000, 2999),
    ("vic", 26, 3000, 3999),
    ("qld", 20, 4000, 4999),
    ("wa", 10, 6000, 6799),
    ("sa", 7, 5000, 5799),
    ("tas", 2, 7000, 7799),
    ("act", 2, 2600, 2619),
    ("nt", 1, 800, 899),
];

/// Nicknames: formal given name → common short forms.
pub const NICKNAMES: &[(&str, &[&str])] = &[
    ("william", &["bill", "will", "billy", "liam"]),
    ("robert", &["bob", "rob", "bobby"]),
    ("richard", &["rick", "dick", "rich"]),
    ("james", &["jim", "jimmy", "jamie"]),
    ("john", &["jack", "johnny"]),
    ("michael", &["mike", "mick"]),
    ("thomas", &["tom", "tommy"]),
    ("christopher", &["chris", "kit"]),
    ("matthew", &["matt"]),
    ("nicholas", &["nick", "nicky"]),
    ("joseph", &["joe", "joey"]),
    ("daniel", &["dan", "danny"]),
    ("anthony", &["tony"]),
    ("andrew", &["andy", "drew"]),
    ("edward", &["ed", "eddie", "ted"]),
    ("benjamin", &["ben", "benny"]),
    ("samuel", &["sam", "sammy"]),
    ("alexander", &["alex", "sandy"]),
    ("timothy", &["tim"]),
    ("stephen", &["steve"]),
    ("charles", &["charlie", "chuck"]),
    ("henry", &["harry", "hank"]),
    ("frederick", &["fred", "freddie"]),
    ("gregory", &["greg"]),
    ("kenneth", &["ken", "kenny"]),
    ("raymond", &["ray"]),
    ("jacob", &["jake"]),
    ("zachary", &["zach"]),
    ("elizabeth", &["liz", "beth", "betty", "lizzie"]),
    ("margaret", &["maggie", "peggy", "meg"]),
    ("katherine", &["kate", "kathy", "katie"]),
    ("catherine", &["cathy", "cat"]),
    ("jennifer", &["jen", "jenny"]),
    ("patricia", &["pat", "patty", "trish"]),
    ("rebecca", &["becky", "bec"]),
    ("samantha", &["sam", "sammy"]),
    ("alexandra", &["alex", "sandra"]),
    ("victoria", &["vicky", "tori"]),
    ("jessica", &["jess", "jessie"]),
    ("stephanie", &["steph"]),
    ("deborah", &["deb", "debbie"]),
    ("christine", &["chris", "chrissy"]),
    ("abigail", &["abby"]),
    ("dorothy", &["dot", "dottie"]),
    ("susan", &["sue", "suzy"]),
    ("barbara", &["barb"]),
    ("judith", &["judy"]),
    ("eleanor", &["ellie", "nell"]),
];

/// A list of values with Zipf-like cumulative weights `1 / (rank + 1)^s`.
pub struct Weighted {
    values: Vec<&'static str>,
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(values: Vec<&'static str>, s: f64) -> Self {
        let mut acc = 0.0;
        let cumulative = (0..values.len())
            .map(|r| {
                acc += 1.0 / ((r + 1) as f64).powf(s);
                acc
            })
            .collect();
        Weighted { values, cumulative }
    }

    /// Draws one value.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> &'static str {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.gen::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= u);
        self.values[i.min(self.values.len() - 1)]
    }
}

/// All sampling tables, built once.
pub struct Tables {
    /// Female given names.
    pub female: Weighted,
    /// Male given names.
    pub male: Weighted,
    /// Surnames.
    pub surnames: Weighted,
    /// Street names.
    pub streets: Weighted,
    /// Street types.
    pub street_types: Weighted,
    /// Suburbs.
    pub suburbs: Weighted,
    /// `address_2` suffixes (first is empty).
    pub place_suffixes: Weighted,
}

/// The shared sampling tables.
pub fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let ws = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        let bar = |s: &'static str| s.split('|').map(str::trim).collect::<Vec<_>>();
        Tables {
            female: Weighted::new(ws(FEMALE), 0.9),
            male: Weighted::new(ws(MALE), 0.9),
            surnames: Weighted::new(ws(SURNAMES), 0.8),
            streets: Weighted::new(ws(STREETS), 0.6),
            street_types: Weighted::new(ws(STREET_TYPES), 1.2),
            suburbs: Weighted::new(bar(SUBURBS), 0.5),
            place_suffixes: Weighted::new(bar(PLACE_SUFFIXES), 1.0),
        }
    })
}

/// Nicknames of a given name, if any.
pub fn nicknames(given: &str) -> Option<&'static [&'static str]> {
    NICKNAMES.iter().find(|(n, _)| *n == given).map(|(_, v)| *v)
}
